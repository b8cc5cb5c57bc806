// A user's sessions as the admin API, the console and the user's own client route list them:
// where and how each one logged in, and when it was last used. Nothing secret (no refresh-token
// hash) leaves here.

import type { DeviceRecord, SessionRecord } from '../store/store.js';

/** What the SDK said of a session's device at its latest login there. */
export interface SessionDeviceView {
  readonly platform?: string;
  readonly platform_version?: string;
  readonly sdk_version?: string;
  readonly app_id?: string;
  readonly app_version?: string;
}

/** One session (dates in Unix seconds, as the admin API's other dates). */
export interface SessionView {
  readonly _id: string;
  readonly device_id: string;
  /** Null when the login said nothing of its device. */
  readonly device: SessionDeviceView | null;
  /** The client address of the login. */
  readonly address: string | null;
  readonly provider_name: string;
  readonly provider_type: string;
  readonly creation_date: number;
  /** The login or the latest refresh. */
  readonly last_used_date: number;
  readonly expiration_date: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export function sessionView(s: SessionRecord, devices: readonly DeviceRecord[]): SessionView {
  const d = devices.find((x) => x.id === s.deviceId);
  const device: SessionDeviceView = {
    ...(d?.platform !== undefined ? { platform: d.platform } : {}),
    ...(d?.platformVersion !== undefined ? { platform_version: d.platformVersion } : {}),
    ...(d?.sdkVersion !== undefined ? { sdk_version: d.sdkVersion } : {}),
    ...(d?.appId !== undefined ? { app_id: d.appId } : {}),
    ...(d?.appVersion !== undefined ? { app_version: d.appVersion } : {}),
  };
  return {
    _id: s.id,
    device_id: s.deviceId,
    device: Object.keys(device).length > 0 ? device : null,
    address: s.address ?? null,
    provider_name: s.providerName,
    provider_type: s.providerType,
    creation_date: seconds(s.createdAt),
    last_used_date: seconds(s.lastUsedAt ?? s.createdAt),
    expiration_date: seconds(s.expiresAt),
  };
}

/** The sessions still live at `now` by their expiry and the idle timeout (ended ones wait for the sweep). */
export function liveSessions(sessions: readonly SessionRecord[], now: number, idleTimeoutSeconds: number): SessionRecord[] {
  return sessions.filter(
    (s) => s.expiresAt > now && (idleTimeoutSeconds <= 0 || (s.lastUsedAt ?? s.createdAt) + idleTimeoutSeconds * 1000 > now),
  );
}
