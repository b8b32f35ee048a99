/** What is stored in Secrets Manager for one server. Never persisted anywhere else. */
export type ServerCredentials =
  | { type: 'password'; password: string }
  | { type: 'privateKey'; privateKey: string; passphrase?: string };

export type AuthMethod = ServerCredentials['type'];
