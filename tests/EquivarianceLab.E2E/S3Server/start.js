'use strict';
// Starts s3rver, the S3 API emulator of the E2E tests (Infrastructure/S3Server.cs), with the flags of s3rver's own
// command line (--address, --port, --directory, --silent) and two additions:
//  - a request whose body is aws-chunked (the AWS SDKs' streaming SigV4 upload: Content-Encoding aws-chunked or
//    x-amz-content-sha256 STREAMING-...) is refused with 501 NotImplemented, since s3rver 3.7.1 would store the chunk
//    framing as part of the object instead of decoding it: a client that forgets to turn chunked uploads off fails
//    loudly instead of reading back different bytes;
//  - --exit-with PID: the server stops when that process (the test run) is gone, so a killed test run leaves no server.
// Run it with node's --openssl-legacy-provider: s3rver makes ListObjectsV2 continuation tokens with DES, which Node 17+
// refuses without it (a truncated listing is then a 500 InternalError).
const S3rver = require('s3rver');
const S3Error = require('s3rver/lib/models/error');

const options = { address: '127.0.0.1', port: 4568, silent: false };
let exitWith = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  switch (args[i]) {
    case '--address': options.address = args[++i]; break;
    case '--port': options.port = Number(args[++i]); break;
    case '--directory': options.directory = args[++i]; break;
    case '--silent': options.silent = true; break;
    case '--exit-with': exitWith = Number(args[++i]); break;
    default: throw new Error(`unknown argument ${args[i]}`);
  }
}
if (!options.directory) throw new Error('--directory is required');

const server = new S3rver(options);

// First of all middleware, so it runs before s3rver's routes read the body.
server.middleware.unshift(async (ctx, next) => {
  const encoding = (ctx.get('content-encoding') || '').toLowerCase();
  const payload = ctx.get('x-amz-content-sha256') || '';
  if (encoding.includes('aws-chunked') || payload.startsWith('STREAMING-')) {
    // Read the body first: a response sent while the client is still writing can reach it as a broken connection.
    await new Promise((resolve, reject) => ctx.req.on('end', resolve).on('error', reject).resume());
    throw new S3Error('NotImplemented',
      'aws-chunked uploads are not supported by this test server: turn chunked encoding off on the client ' +
      '(PutObjectRequest/UploadPartRequest.UseChunkEncoding = false, RequestChecksumCalculation = WHEN_REQUIRED).');
  }
  return next();
});

server.run().then(({ address, port }) => {
  console.log('S3rver listening on %s:%d', address, port);
  if (exitWith > 0) {
    setInterval(() => {
      try { process.kill(exitWith, 0); } catch { process.exit(0); }
    }, 1000).unref();
  }
}, err => {
  console.error(err);
  process.exit(1);
});
