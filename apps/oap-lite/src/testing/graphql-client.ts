/** Posts GraphQL documents over HTTP the way the stock UI does. */
export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T;
  errors?: Array<{ message: string }>;
}

export const graphql = async <T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
};

/** Fails with the server's messages when the answer has errors. */
export const graphqlOk = async <T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> => {
  const result = await graphql<T>(url, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.data as T;
};

/** A MINUTE-step Duration covering [from, to] in this server's local time, as the UI sends it. */
export const minuteDuration = (from: number, to: number) => {
  const fmt = (t: number) => {
    const d = new Date(t);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}${p(d.getMinutes())}`;
  };
  return { start: fmt(from), end: fmt(to), step: 'MINUTE' };
};
