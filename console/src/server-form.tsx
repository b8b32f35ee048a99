import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describeError } from './api';
import { notify } from './notices';
import { href } from './routes';
import { EMPTY_FORM, fieldErrors, formFromServer, requestBody, type FormValues } from './server-form-model';
import { serverPath } from './servers';
import type { Server } from './types';
import { LoadFailed, Loading } from './ui';

interface FieldProps {
  name: string;
  label: string;
  values: FormValues;
  errors: Record<string, string>;
  onChange: (name: string, value: string | boolean) => void;
  hint?: ComponentChildren;
  type?: 'text' | 'password' | 'number' | 'textarea' | 'checkbox';
  placeholder?: string;
  /** Shown under this field too (a credentials error names `password` whichever secret is used). */
  alsoError?: string | undefined;
}

/** One input with its label, hint and the API's error for it, tied together for screen readers. */
function Field({ name, label, values, errors, onChange, hint, type = 'text', placeholder, alsoError }: FieldProps) {
  const id = `field-${name}`;
  const error = errors[name] ?? alsoError;
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, name, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': described };
  const value = values[name];
  return (
    <div class={`field${type === 'checkbox' ? ' field-checkbox' : ''}${error ? ' has-error' : ''}`}>
      {type === 'checkbox' ? (
        <input {...common} type="checkbox" checked={value === true} onChange={(event) => onChange(name, event.currentTarget.checked)} />
      ) : null}
      <label for={id}>{label}</label>
      {type === 'textarea' ? (
        <textarea {...common} rows={5} spellcheck={false} value={String(value ?? '')} onInput={(event) => onChange(name, event.currentTarget.value)} placeholder={placeholder} />
      ) : type === 'checkbox' ? null : type === 'password' ? (
        <input {...common} type="password" autocomplete="new-password" value={String(value ?? '')} onInput={(event) => onChange(name, event.currentTarget.value)} />
      ) : (
        <input
          {...common}
          type="text"
          inputMode={type === 'number' ? 'numeric' : undefined}
          autocomplete="off"
          spellcheck={false}
          value={String(value ?? '')}
          placeholder={placeholder}
          onInput={(event) => onChange(name, event.currentTarget.value)}
        />
      )}
      {hint && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

const FIELDS = Object.keys(EMPTY_FORM);

function FormBody({ id, initial }: { id?: string | undefined; initial: FormValues }) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<{ byField: Record<string, string>; general: string[] }>({ byField: {}, general: [] });
  const [saving, setSaving] = useState(false);
  const editing = id !== undefined;
  const onChange = (name: string, value: string | boolean) => setValues((previous) => ({ ...previous, [name]: value }));
  const field = (name: string, label: string, extra: Partial<FieldProps> = {}) => (
    <Field name={name} label={label} values={values} errors={errors.byField} onChange={onChange} {...extra} />
  );

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    try {
      const body = requestBody(values, editing ? initial : undefined);
      const saved = editing ? await api<Server>('PATCH', serverPath(id), body) : await api<Server>('POST', '/servers', body);
      notify(editing ? `${saved.name} saved.` : `${saved.name} registered${saved.active ? ': its first poll is on its way' : ''}.`);
      location.hash = href({ view: 'server', id: saved.id });
    } catch (error) {
      const problem = error instanceof ApiError ? error.problem : undefined;
      const found = fieldErrors(problem?.errors, FIELDS);
      if (!problem?.errors?.length) found.general.push(describeError(error));
      setErrors(found);
      // After the render that marks them: the first field the API named gets the focus.
      window.setTimeout(() => document.querySelector<HTMLElement>('.server-form [aria-invalid="true"]')?.focus(), 0);
    } finally {
      setSaving(false);
    }
  };

  const keyAuth = values.authMethod === 'privateKey';
  const credentialsError = keyAuth ? errors.byField.password : undefined;
  return (
    <form class="server-form" onSubmit={submit} noValidate aria-labelledby="form-title">
      <h1 id="form-title">{editing ? `Edit ${initial.name}` : 'Register a server'}</h1>
      {errors.general.length > 0 && (
        <div class="banner banner-error" role="alert">
          {errors.general.map((message) => (
            <p>{message}</p>
          ))}
        </div>
      )}
      {Object.keys(errors.byField).length > 0 && (
        <p class="field-error" role="alert">
          The API refused {Object.keys(errors.byField).length === 1 ? 'a field' : 'some fields'}: see below.
        </p>
      )}
      <fieldset>
        <legend>Connection</legend>
        {field('name', 'Name', { hint: 'Letters, digits, ".", "_" and "-"; unique.' })}
        {field('host', 'Host', { placeholder: 'sftp.partner.example' })}
        {field('port', 'Port', { type: 'number' })}
        {field('username', 'User', { hint: 'The SFTP login.' })}
      </fieldset>
      <fieldset>
        <legend>Credentials</legend>
        <div class="field">
          <label for="field-authMethod">Authentication</label>
          <select id="field-authMethod" name="authMethod" value={String(values.authMethod)} onChange={(event) => onChange('authMethod', event.currentTarget.value)}>
            <option value="password">Password</option>
            <option value="privateKey">Private key (and passphrase)</option>
          </select>
        </div>
        {editing && <p class="hint">Leave blank to keep the stored credentials. A new host, port or username needs new ones.</p>}
        {keyAuth
          ? [field('privateKey', 'Private key', { type: 'textarea', placeholder: 'The OpenSSH or PEM private key, pasted whole', alsoError: credentialsError }), field('passphrase', 'Passphrase', { type: 'password' })]
          : field('password', 'Password', { type: 'password' })}
      </fieldset>
      <fieldset>
        <legend>What to ingest</legend>
        {field('remoteDir', 'Remote directory')}
        {field('pattern', 'Pattern', { hint: 'Glob on the file name: *, ?, **, [abc], {a,b}.' })}
        {field('stableAfterSeconds', 'Stable after (s)', { type: 'number', hint: 'A file is taken once its size and mtime stayed unchanged this long.' })}
        {field('afterIngest', 'After ingest', { hint: 'keep, delete, or move:/absolute/dir' })}
        {field('recursive', 'Include subdirectories', { type: 'checkbox' })}
      </fieldset>
      <fieldset>
        <legend>Polling, storage and trust</legend>
        {field('pollIntervalSeconds', 'Poll interval (s)', { type: 'number', placeholder: 'default' })}
        {field('maxConnections', 'Max connections', { type: 'number' })}
        {field('keyPrefix', 'Key prefix', { placeholder: 'the name', hint: 'Where its objects land in the bucket.' })}
        {field('hostKey', 'Pinned fingerprint', { placeholder: 'SHA256:…', hint: "The server's SSH host key as ssh-keygen -lf prints it. Blank: the first key seen is trusted (or pin it after a connection test)." })}
        {field('active', 'Active (polled)', { type: 'checkbox' })}
      </fieldset>
      <div class="actions">
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : editing ? 'Save changes' : 'Register server'}
        </button>
        <a class="button secondary" href={editing ? href({ view: 'server', id }) : href({ view: 'servers' })}>
          Cancel
        </a>
      </div>
    </form>
  );
}

/** Register (no id) or edit a server; the API's field errors appear under the fields they name. */
export function ServerForm({ id }: { id?: string }) {
  const [loaded, setLoaded] = useState<{ values?: FormValues; error?: unknown }>({});
  useEffect(() => {
    if (id === undefined) return;
    api<Server>('GET', serverPath(id)).then(
      (server) => setLoaded({ values: formFromServer(server as unknown as Record<string, unknown> & { authMethod: string }) }),
      (error: unknown) => setLoaded({ error }),
    );
  }, [id]);
  if (id === undefined) return <FormBody initial={EMPTY_FORM} />;
  if (loaded.error !== undefined) return <LoadFailed error={loaded.error} />;
  if (!loaded.values) return <Loading what="the server" />;
  return <FormBody id={id} initial={loaded.values} />;
}
