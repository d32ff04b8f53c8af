import { z } from "zod";
import { idOf } from "../ids";

/** An armored public key, or the base64 of a binary one (a `.gpg` file chosen in the form). */
export const addTeamKeySchema = z.object({
  key: z.string().min(1, "Paste an OpenPGP public key, or choose its file.").max(200_000, "That key is too large."),
});
export type AddTeamKeyInput = z.infer<typeof addTeamKeySchema>;

export const teamKeyRefSchema = z.object({ keyId: idOf("opk", "key") });
