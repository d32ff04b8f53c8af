import { z } from "zod";

export const emailSchema = z.string().trim().toLowerCase().pipe(z.email("Enter a valid e-mail address."));

export const passwordSchema = z.string().min(10, "Use at least 10 characters.").max(200, "Use at most 200 characters.");

export const signUpSchema = z.object({
  name: z.string().trim().min(1, "Enter your name.").max(100),
  email: emailSchema,
  password: passwordSchema,
  teamName: z.string().trim().max(60).optional(),
});
export type SignUpInput = z.infer<typeof signUpSchema>;

export const signInSchema = z.object({
  email: emailSchema,
  // Capped before anything is hashed: a megabyte-long "password" would cost as much as many sign-ins.
  password: z.string().min(1, "Enter your password.").max(200, "Passwords are at most 200 characters."),
});

/**
 * Where to go after signing in: only a path on this site. Browsers read "//host", "/\\host" and
 * "/\t/host" as other origins, so the path is resolved against a dummy origin and kept only if
 * it stays there.
 */
export function safeNextPath(next: string | undefined): string {
  if (!next || !next.startsWith("/") || /[\u0000-\u001f\\\\]/.test(next)) return "/";
  try {
    const url = new URL(next, "http://coffer.invalid");
    return url.origin === "http://coffer.invalid" ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

export const changePasswordSchema = z
  .object({
    currentPassword: z
      .string()
      .min(1, "Enter your current password.")
      .max(200, "Passwords are at most 200 characters."),
    newPassword: passwordSchema,
  })
  .refine((i) => i.currentPassword !== i.newPassword, {
    path: ["newPassword"],
    message: "Choose a password different from the current one.",
  });
export type ChangePasswordInput = z.infer<typeof changePasswordSchema>;
