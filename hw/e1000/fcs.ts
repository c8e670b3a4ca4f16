// The Ethernet frame check sequence: CRC-32 (IEEE 802.3, reflected, polynomial
// 0xEDB88320), sent least significant byte first. The link carries frames without
// it; the device needs it only when a driver leaves CMD.IFCS clear and supplies the
// FCS itself (see device.ts).

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(b: Uint8Array, off: number, len: number): number {
  let c = -1;
  for (let i = off, end = off + len; i < end; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Write the FCS of b[off, off+len) at b[off+len] (4 bytes, least significant first). */
export function appendFcs(b: Uint8Array, off: number, len: number): void {
  const c = crc32(b, off, len);
  b[off + len] = c & 0xff;
  b[off + len + 1] = (c >>> 8) & 0xff;
  b[off + len + 2] = (c >>> 16) & 0xff;
  b[off + len + 3] = c >>> 24;
}

/** True when the last 4 bytes of b[off, off+len) are the FCS of the bytes before them. */
export function fcsValid(b: Uint8Array, off: number, len: number): boolean {
  if (len < 4) return false;
  const end = off + len - 4;
  const got = (b[end]! | (b[end + 1]! << 8) | (b[end + 2]! << 16) | (b[end + 3]! << 24)) >>> 0;
  return crc32(b, off, len - 4) === got;
}
