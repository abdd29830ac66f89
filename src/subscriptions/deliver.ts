import type { Resource, Subscription } from '@medplum/fhirtypes';

export type DeliveryResult = { ok: true } | { ok: false; failure: string };

const FHIR_JSON = 'application/fhir+json';

/**
 * One rest-hook notification, as R4 defines the channel: without a payload,
 * an empty POST to the endpoint; with one, the endpoint is read as a FHIR
 * base and the resource is sent as an update (PUT [endpoint]/[type]/[id]).
 * Redirects are not followed (a redirect could carry the resource to another
 * host). The failure text names an HTTP status or an error class only: never
 * the response body, never anything from the resource.
 */
export async function send(sub: Subscription, resource: Resource & { id: string }, timeoutMs: number): Promise<DeliveryResult> {
  const channel = sub.channel;
  const endpoint = (channel?.endpoint ?? '').replace(/\/+$/, '');
  const headers: Record<string, string> = { 'user-agent': 'JoinedUp-gateway subscription' };
  for (const h of channel?.header ?? []) {
    const i = h.indexOf(':');
    if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const withPayload = channel?.payload !== undefined;
  const url = withPayload ? `${endpoint}/${resource.resourceType}/${encodeURIComponent(resource.id)}` : endpoint;
  if (withPayload) headers['content-type'] = FHIR_JSON;
  try {
    const res = await fetch(url, {
      method: withPayload ? 'PUT' : 'POST',
      headers,
      ...(withPayload ? { body: JSON.stringify(resource) } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The answer is not read beyond its status.
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { ok: true } : { ok: false, failure: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { ok: false, failure: `no answer within ${timeoutMs} ms` };
    return { ok: false, failure: `connection failed${e?.cause?.code ? ` (${e.cause.code})` : ''}` };
  }
}
