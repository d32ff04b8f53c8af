"use server";
import { apiTokenRefSchema, createApiTokenSchema } from "@/lib/api-tokens/schemas";
import { createApiToken, revokeApiToken } from "@/lib/api-tokens/tokens";
import { teamAction } from "@/lib/web/action";

export const createApiTokenAction = teamAction(createApiTokenSchema, "admin", createApiToken);
export const revokeApiTokenAction = teamAction(apiTokenRefSchema, "admin", (t, i) => revokeApiToken(t, i.tokenId));
