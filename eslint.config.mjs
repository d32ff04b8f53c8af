import next from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const dbImport = {
  group: ["@/db", "@/db/*", "**/db/*", "../db", "../../db"],
  message: "app/ and inngest/ go through lib/, never db/ directly (STYLE.md).",
};

const config = [
  ...next,
  ...nextTs,
  {
    ignores: [
      ".next/**",
      "node_modules/**",
      ".data/**",
      "db/migrations/**",
      "test-results/**",
      "playwright-report/**",
      "next-env.d.ts",
    ],
  },
  {
    files: ["app/**", "inngest/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [dbImport] }] },
  },
  {
    files: ["lib/**", "db/**"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@/app/*", "@/inngest/*"],
              message: "lib/ and db/ never import app/ or inngest/ (arrows point one way).",
            },
          ],
        },
      ],
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
];

export default config;
