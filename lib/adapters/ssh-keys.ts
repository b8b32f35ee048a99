import ssh2 from 'ssh2';

const { utils } = ssh2;

/**
 * Parses a private key the way the SFTP client will, so a key that cannot be used is refused when it is
 * registered. The reason names the problem, never the key material.
 */
export function checkPrivateKey(privateKey: string, passphrase?: string): string | undefined {
  let parsed: ReturnType<typeof utils.parseKey>;
  try {
    parsed = utils.parseKey(privateKey, passphrase);
  } catch {
    return 'could not be parsed as a private key';
  }
  if (parsed instanceof Error) {
    if (/passphrase|encrypted|decrypt|bad decrypt/i.test(parsed.message)) {
      return passphrase === undefined
        ? 'is encrypted: a passphrase is required'
        : 'could not be decrypted with the passphrase';
    }
    return 'could not be parsed as a private key';
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key.isPrivateKey() !== true) return 'is not a private key';
  return undefined;
}
