/**
 * Fetching a release descriptor with undici: https only (unless allowed), a time limit, a size limit, JSON,
 * then core/release.ts's validation. Network errors and 5xx are retryable; everything else is not.
 */
import { request } from 'undici';
import { checkUrl, InvalidReleaseError, readRelease, type Release, type ReleaseSource } from '../core/release';
import { NetworkError, ProviderTimeoutError, ServerError } from '../providers/errors';

export async function fetchRelease(source: ReleaseSource, signal?: AbortSignal): Promise<Release> {
  const url = checkUrl(source.url, 'url', source.allowHttp);
  const where = `GET ${url}`;
  let res;
  try {
    res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json', 'user-agent': 'snapbuild' },
      signal: AbortSignal.any([AbortSignal.timeout(source.timeoutMs), ...(signal ? [signal] : [])]),
      headersTimeout: source.timeoutMs,
      bodyTimeout: source.timeoutMs,
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const e = err as { name?: string; code?: string };
    if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT') throw new ProviderTimeoutError(`${where}: no answer within ${source.timeoutMs} ms`);
    throw new NetworkError(`${where}: ${e.code ?? (err as Error).message}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > source.maxBytes) {
        res.body.destroy();
        throw new InvalidReleaseError('(response)', `is larger than ${source.maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof InvalidReleaseError) throw err;
    throw new NetworkError(`${where}: the response broke off (${(err as Error).message})`);
  }
  if (res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408) throw new ServerError(`${where}: ${res.statusCode}`, true);
  if (res.statusCode >= 300) throw new ServerError(`${where}: ${res.statusCode}${res.statusCode < 400 ? ' (redirects are not followed)' : ''}`, false);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidReleaseError('(response)', 'is not JSON');
  }
  return readRelease(doc, source);
}
