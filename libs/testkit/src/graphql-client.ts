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

/** What execExpression answers (the fields the stock UI and swctl read). */
export interface ExpressionResultJson {
  type: string;
  error: string | null;
  results: Array<{
    metric: { labels: Array<{ key: string; value: string | null }> };
    values: Array<{ id: string | null; value: string | null; traceID: string | null; owner: unknown }>;
  }>;
}

export const EXEC_EXPRESSION = `query ($expression: String!, $entity: Entity!, $duration: Duration!) {
  execExpression(expression: $expression, entity: $entity, duration: $duration) {
    type error
    results { metric { labels { key value } } values { id value traceID owner { serviceName } } }
  }
}`;

/** execExpression for a process, as `swctl metrics exec --service-name ... --process-name ...` asks. */
export const execExpression = async (
  url: string,
  expression: string,
  entity: Record<string, unknown>,
  duration: { start: string; end: string; step: string },
): Promise<ExpressionResultJson> =>
  (await graphqlOk<{ execExpression: ExpressionResultJson }>(url, EXEC_EXPRESSION, { expression, entity, duration }))
    .execExpression;
