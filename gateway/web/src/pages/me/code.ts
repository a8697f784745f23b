// The text of a station's 报到码 as it travels: the bare code (JQ1.<county>.<org>.<secret>, what staff read out and
// members type), or a link to this console's 扫码报到 page carrying it (what the printed poster's QR code holds, so a
// phone's own camera app opens the page directly). The server verifies the code either way.

const CODE = /^JQ1\.\d{6}\.[0-9a-fA-F-]{36}\.[A-Za-z0-9_-]{8,}$/;

/** The code inside a scanned or typed text, or null when the text is no 金桥 报到码 at all. */
export function codeOf(text: string): string | null {
  const raw = text.trim();
  if (!raw) return null;
  if (/^https?:\/\//i.test(raw)) {
    try {
      const inner = new URL(raw).searchParams.get("code");
      return inner ? codeOf(inner) : null;
    } catch {
      return null;
    }
  }
  // Typed from the poster: spaces and line breaks between the groups do not count.
  const bare = raw.replace(/\s+/g, "");
  return CODE.test(bare) ? bare : null;
}

/** The link printed as the poster's QR code: this console's 扫码报到 page with the code. */
export function checkInLink(code: string): string {
  return `${window.location.origin}/m/check-in?code=${encodeURIComponent(code)}`;
}

/** The code as printed under the QR code: its parts apart, the secret in groups of eight (spaces need no typing). */
export function grouped(code: string): string {
  const parts = code.split(".");
  if (parts.length !== 4) return code;
  const secret = parts[3].match(/.{1,8}/g)?.join(" ") ?? parts[3];
  return `${parts[0]}.${parts[1]}. ${parts[2]}. ${secret}`;
}
