// The register/edit form's values and the request body built from them; pure, unit-tested.

export type FormValues = Record<string, string | boolean>;

export const NUMBER_FIELDS = ['port', 'pollIntervalSeconds', 'stableAfterSeconds', 'maxConnections'];
export const BOOLEAN_FIELDS = ['recursive', 'active'];
const TEXT_FIELDS = ['name', 'host', 'username', 'remoteDir', 'pattern', 'afterIngest', 'keyPrefix', 'hostKey'];
const SECRET_FIELDS = ['password', 'privateKey', 'passphrase'];

export const EMPTY_FORM: FormValues = {
  name: '',
  host: '',
  port: '22',
  username: '',
  authMethod: 'password',
  password: '',
  privateKey: '',
  passphrase: '',
  remoteDir: '/',
  pattern: '*',
  recursive: false,
  pollIntervalSeconds: '',
  stableAfterSeconds: '5',
  maxConnections: '2',
  afterIngest: 'keep',
  keyPrefix: '',
  hostKey: '',
  active: true,
};

interface ServerFields {
  [field: string]: unknown;
  authMethod: string;
}

/** A registered server as form values (credentials blank: they are never read back). */
export function formFromServer(server: ServerFields): FormValues {
  const values: FormValues = { ...EMPTY_FORM, authMethod: server.authMethod };
  for (const field of [...TEXT_FIELDS, ...NUMBER_FIELDS]) values[field] = server[field] === null || server[field] === undefined ? '' : String(server[field]);
  for (const field of BOOLEAN_FIELDS) values[field] = server[field] === true;
  return values;
}

/** A whole number as a number; anything else as typed, for the API to name (`port: expected number`). */
function numberOrText(text: string): number | string {
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
}

function fieldValue(field: string, value: string | boolean): unknown {
  if (typeof value === 'boolean') return value;
  return NUMBER_FIELDS.includes(field) ? numberOrText(value) : value.trim() === '' ? value : value.trim();
}

/**
 * The body of POST /servers (`initial` undefined) or PATCH /servers/{id} (only what changed; blank
 * credentials keep the stored ones; a cleared hostKey is `null`, which unpins it). Blank optional
 * fields of a registration are left out so the API's defaults apply; the API validates the rest.
 */
export function requestBody(values: FormValues, initial?: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of [...TEXT_FIELDS, ...NUMBER_FIELDS, ...BOOLEAN_FIELDS]) {
    const value = values[field] ?? '';
    if (initial) {
      if (value === initial[field]) continue;
      body[field] = field === 'hostKey' && value === '' ? null : fieldValue(field, value);
    } else if (value !== '') {
      body[field] = fieldValue(field, value);
    }
  }
  const secrets = values.authMethod === 'privateKey' ? ['privateKey', 'passphrase'] : ['password'];
  for (const field of SECRET_FIELDS) {
    const value = values[field];
    if (secrets.includes(field) && typeof value === 'string' && value !== '') body[field] = value;
  }
  return body;
}

/** The API's `errors` by form field; those no field shows (`body`, unknown names) go to the form itself. */
export function fieldErrors(errors: { field: string; message: string }[] | undefined, fields: string[]): { byField: Record<string, string>; general: string[] } {
  const byField: Record<string, string> = {};
  const general: string[] = [];
  for (const { field, message } of errors ?? []) {
    if (fields.includes(field)) byField[field] = byField[field] ? `${byField[field]}; ${message}` : message;
    else general.push(field && field !== 'body' ? `${field}: ${message}` : message);
  }
  return { byField, general };
}
