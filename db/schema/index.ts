export * from "./users";
export * from "./teams";
export * from "./audit";
export * from "./servers";
export * from "./storage";
export * from "./schedules";
export * from "./backups";
export * from "./restores";
