"use server";
import { AuthError } from "next-auth";
import { z } from "zod";
import { confirmEmail, resendVerificationEmail } from "@/lib/auth/email-verification";
import { signIn, signOut, SignInRefused } from "@/lib/auth/next-auth";
import { requestPasswordReset, resetPassword } from "@/lib/auth/password-reset";
import { emailSchema, passwordSchema, safeNextPath, signInSchema, signUpSchema } from "@/lib/auth/schemas";
import { revokeAllSessions, signUp } from "@/lib/auth/users";
import { AppError } from "@/lib/errors";
import { publicAction, userAction } from "@/lib/web/action";
import { acceptInvitation } from "@/lib/teams/invitations";
import { clientIp, rememberDevice } from "@/lib/web/request";

async function startSession(email: string, password: string) {
  try {
    await signIn("credentials", { email, password, redirect: false });
    await rememberDevice(email);
  } catch (err) {
    if (err instanceof SignInRefused) throw new AppError("UNAUTHENTICATED", err.reason);
    if (err instanceof AuthError) throw new AppError("UNAUTHENTICATED", "Sign-in failed. Try again.");
    throw err;
  }
}

export const signInAction = publicAction(signInSchema, async ({ email, password }) => {
  await startSession(email, password);
  return null;
});

export const signUpAction = publicAction(signUpSchema, async (input) => {
  const { teamSlug } = await signUp(input);
  await startSession(input.email, input.password);
  return { teamSlug };
});

export async function signOutAction() {
  await signOut({ redirectTo: "/sign-in" });
}

export const signOutEverywhereAction = userAction(z.object({}), async (u) => {
  const ended = await revokeAllSessions(u);
  await signOut({ redirect: false });
  return { ended };
});

/** The link of a verification e-mail: anyone holding it may use it (it proves the mailbox, not a session). */
export const confirmEmailAction = publicAction(z.object({ token: z.string().min(20).max(200) }), ({ token }) =>
  confirmEmail(token),
);

export const resendVerificationAction = userAction(z.object({}), (u) => resendVerificationEmail(u));

/** The same answer whether an account has the address or not. */
export const requestPasswordResetAction = publicAction(z.object({ email: emailSchema }), async ({ email }) => {
  await requestPasswordReset(email, await clientIp());
  return { email };
});

/** The link of a reset e-mail: anyone holding it may use it (it proves the mailbox). */
export const resetPasswordAction = publicAction(
  z.object({ token: z.string().min(20).max(300), newPassword: passwordSchema }),
  async ({ token, newPassword }) => resetPassword(token, newPassword, await clientIp()),
);

export const acceptInvitationAction = userAction(z.object({ token: z.string().min(20).max(100) }), (u, { token }) =>
  acceptInvitation({ userId: u.userId, label: u.email, ip: u.ip }, u.email, token),
);

export async function oauthSignInAction(provider: "github" | "google", next: string) {
  await signIn(provider, { redirectTo: safeNextPath(next) });
}
