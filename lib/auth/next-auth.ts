import "server-only";
import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import GitHub from "next-auth/providers/github";
import Google from "next-auth/providers/google";
import { env } from "../env";
import { AppError } from "../errors";
import { log } from "../log";
import { clientIp, deviceToken, userAgent } from "../web/request";
import { signInSchema } from "./schemas";
import { GITHUB_API, verifiedGitHubUser } from "./github";
import { authSecret } from "./secret";
import { authenticate, createSession, revokeSession, userForOAuth } from "./users";

declare module "next-auth" {
  interface Session {
    sid?: string;
  }
}
declare module "@auth/core/jwt" {
  interface JWT {
    sid?: string;
  }
}

/** Carries our own message (rate limit, wrong password) to the sign-in action. */
export class SignInRefused extends CredentialsSignin {
  constructor(readonly reason: string) {
    super(reason);
    this.code = "refused";
  }
}

export const oauthProviders = () => {
  const e = env();
  return [
    ...(e.AUTH_GITHUB_ID && e.AUTH_GITHUB_SECRET ? [{ id: "github", name: "GitHub" }] : []),
    ...(e.AUTH_GOOGLE_ID && e.AUTH_GOOGLE_SECRET ? [{ id: "google", name: "Google" }] : []),
  ];
};

function config(): NextAuthConfig {
  const e = env();
  const sessionDays = 30;
  return {
    secret: authSecret(),
    trustHost: true,
    // With an https APP_URL, whatever the request says: a TLS proxy may not send
    // X-Forwarded-Proto, and the session cookie would then go without Secure. Otherwise Auth.js
    // judges by the request.
    useSecureCookies: new URL(e.APP_URL).protocol === "https:" || undefined,
    session: { strategy: "jwt", maxAge: sessionDays * 86_400 },
    pages: { signIn: "/sign-in", error: "/sign-in" },
    // Auth.js's debug logging includes request bodies (passwords): keep only errors, by name.
    logger: {
      // `type` names Auth.js errors (class names are minified in production); a wrong password is no error of ours.
      error: (error) => {
        const type = (error as { type?: string }).type ?? error.name;
        if (type !== "CredentialsSignin") log.error("auth error", { error: type });
      },
      warn: () => {},
      debug: () => {},
    },
    providers: [
      Credentials({
        credentials: { email: {}, password: {} },
        async authorize(raw) {
          const parsed = signInSchema.safeParse(raw);
          if (!parsed.success) throw new SignInRefused("Enter your e-mail and password.");
          try {
            return await authenticate(parsed.data.email, parsed.data.password, await clientIp(), await deviceToken());
          } catch (err) {
            if (err instanceof AppError) throw new SignInRefused(err.message);
            throw err;
          }
        },
      }),
      ...(e.AUTH_GITHUB_ID && e.AUTH_GITHUB_SECRET
        ? [
            GitHub({
              clientId: e.AUTH_GITHUB_ID,
              clientSecret: e.AUTH_GITHUB_SECRET,
              userinfo: {
                url: `${GITHUB_API}/user`,
                request: ({ tokens }: { tokens: { access_token?: string } }) => verifiedGitHubUser(tokens),
              },
            }),
          ]
        : []),
      ...(e.AUTH_GOOGLE_ID && e.AUTH_GOOGLE_SECRET
        ? [Google({ clientId: e.AUTH_GOOGLE_ID, clientSecret: e.AUTH_GOOGLE_SECRET })]
        : []),
    ],
    callbacks: {
      signIn({ account, profile }) {
        // Only an address the provider verified: Google says so; for GitHub, verifiedGitHubUser keeps only such an address.
        if (account?.provider === "google" && profile?.email_verified !== true) return false;
        if (account?.provider === "github" && !profile?.email) return false;
        return true;
      },
      async jwt({ token, user, account, profile }) {
        if (!account || !user) return token; // not a sign-in: keep the token as it is
        const userId =
          account.provider === "credentials"
            ? user.id!
            : (
                await userForOAuth({
                  provider: account.provider,
                  providerAccountId: account.providerAccountId,
                  email: String(profile?.email ?? user.email ?? ""),
                  name: String(profile?.name ?? user.name ?? ""),
                })
              ).id;
        return { sub: userId, sid: await createSession(userId, await clientIp(), await userAgent()) };
      },
      session({ session, token }) {
        return { ...session, sid: token.sid };
      },
    },
    events: {
      async signOut(message) {
        const sid = "token" in message ? message.token?.sid : undefined;
        if (sid) await revokeSession(sid);
      },
    },
  };
}

export const { handlers, auth, signIn, signOut } = NextAuth(() => config());
