import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Root of the sgl-notebook REST API under the Jupyter server's base URL. */
export const API_NAMESPACE = 'sgl-notebook/api';

/** An error reply of the server extension, carrying its HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/**
 * Call the sgl-notebook REST API and return its parsed JSON.
 *
 * @param endPoint - path under `sgl-notebook/api/`, e.g. `servers` or `servers/abc/logs?n=50`
 * @param init - fetch options (method, body)
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): keep the text for the message.
    }
  }
  if (!response.ok) {
    const message = typeof data === 'object' && data?.message ? data.message : String(data);
    throw new ApiError(message || response.statusText, response.status);
  }
  return data as T;
}
