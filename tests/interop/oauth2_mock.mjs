// An independent OAuth 2 / OpenID Connect issuer for the auth interop test:
// `oauth2-mock-server` on 127.0.0.1:<port>, with one RS256 key. Its token endpoint's
// client_credentials grant takes `aud` and `scope`; this script also lets the request set
// `sub` and `roles` (space-separated), which the mock leaves out of such tokens.
//
//   node tests/interop/oauth2_mock.mjs <port>    (NODE_PATH: a node_modules holding it)
import { createRequire } from 'node:module';

const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const { OAuth2Server } = await import(require.resolve('oauth2-mock-server'));

const port = Number(process.argv[2] ?? 9000);
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeTokenSigning', (token, req) => {
  const body = req.body ?? {};
  if (typeof body.sub === 'string') token.payload.sub = body.sub;
  if (typeof body.roles === 'string') token.payload.roles = body.roles.split(' ').filter(Boolean);
});
await server.start(port, '127.0.0.1');
console.log(`issuer ${server.issuer.url}`);
const stop = async () => { await server.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
