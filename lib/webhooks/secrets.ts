import "server-only";
import { randomBytes } from "node:crypto";
import { openSecret, sealSecret } from "../crypto/secret-box";

/** The sealed columns of notification_channels, each bound to its team, column and row. */
type Column = "url_enc" | "secret_enc" | "previous_secret_enc";
const context = (teamId: string, channelId: string, column: Column) => ({
  teamId,
  table: "notification_channels",
  column,
  rowId: channelId,
});

export const sealChannelSecret = (teamId: string, channelId: string, column: Column, value: string) =>
  sealSecret(value, context(teamId, channelId, column));
export const openChannelSecret = (teamId: string, channelId: string, column: Column, sealed: string) =>
  openSecret(sealed, context(teamId, channelId, column));

/** A fresh Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

/** After a rotation the previous secret keeps signing this long, so receivers can switch over. */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;
