import { z } from "zod";

/** How an encrypted backup is sealed: Coffer's format (default) or one OpenPGP message to the team's keys. */
export const encryptionFormats = ["coffer", "openpgp"] as const;
export type EncryptionFormat = (typeof encryptionFormats)[number];
export const encryptionSchema = z.enum(encryptionFormats, "Choose Coffer key or OpenPGP.").optional();

export const encryptionText: Record<EncryptionFormat, string> = {
  coffer: "Coffer key",
  openpgp: "OpenPGP: team keys",
};
