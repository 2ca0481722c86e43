import type { IncomingMessage, ServerResponse } from 'node:http';

/** `GET /`: what this server is and where to go, instead of "Cannot GET /". */
export function rootPage(options: { graphiql: boolean; graphqlPath: string; healthPath: string }): (req: IncomingMessage, res: ServerResponse) => void {
  const { graphqlPath, healthPath } = options;
  const graphiql = options.graphiql
    ? `<li><a href="${graphqlPath}">GraphiQL</a> — explore the API in the browser (put your key in the Headers tab)</li>`
    : '<li>GraphiQL is switched off on this server (<code>PATRON_GRAPHIQL</code>)</li>';
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Patron</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .25em}</style>
</head>
<body>
<h1>Patron</h1>
<p>A headless loyalty engine: points, rules, tiers and referrals behind one GraphQL API.</p>
<ul>
${graphiql}
<li>GraphQL over HTTP: <code>POST ${graphqlPath}</code> with <code>Authorization: Bearer &lt;key or customer token&gt;</code></li>
<li>Subscriptions: graphql-ws on the same path (<code>ws://…${graphqlPath}</code>), credentials in <code>connectionParams</code></li>
<li><a href="${healthPath}">Health check</a> — 200 when the database answers</li>
</ul>
</body>
</html>
`;
  const body = Buffer.from(html);
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'no-cache' });
    res.end(body);
  };
}
