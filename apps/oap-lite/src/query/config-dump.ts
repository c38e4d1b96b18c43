/**
 * /debugging/config/dump as the OAP prints it: one `key=value` line per setting, sorted, with
 * the value of every key that contains a masking keyword (SW_DEBUGGING_QUERY_KEYWORDS_FOR_MASKING_SECRETS,
 * case-insensitive) shown as ********, and credentials written into a URL's user-info
 * (`http://user:secret@host`, as a cluster-nodes list may carry them) masked wherever they appear.
 */
export const MASK = '********';

/** `scheme://user:password@host` or `user:password@host` at the start of a list item. */
const URL_CREDENTIALS = /(^|,|\s|\/\/)([^\s/@,]+)@/g;

export const maskUrlCredentials = (value: string): string => value.replace(URL_CREDENTIALS, `$1${MASK}@`);

export const configDump = (config: object, maskingKeywords: readonly string[]): string => {
  const keywords = maskingKeywords.map((k) => k.toLowerCase());
  const lines: string[] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
      return;
    }
    const key = prefix.toLowerCase();
    const text = Array.isArray(value) ? value.join(',') : String(value);
    const secret = keywords.some((k) => key.includes(k)) && text !== '';
    lines.push(`${prefix}=${secret ? MASK : maskUrlCredentials(text)}`);
  };
  walk('', config);
  return lines.sort().join('\n') + '\n';
};
