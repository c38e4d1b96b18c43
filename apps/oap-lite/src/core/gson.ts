/** JSON as Gson writes it by default: HTML-sensitive characters and U+2028/9 escaped. */
export const gsonJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[<>&='\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
