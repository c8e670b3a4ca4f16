// The NIC's EEPROM as the 8254x lays it out, reduced to what a driver reads: the MAC
// address in words 0-2 (first octet in the low byte of word 0) and the checksum word
// 0x3F, chosen so that words 0x00..0x3F sum to 0xBABA. The other words read 0.

import type { Mac } from '../../lib/net/addr.ts';

export const EEPROM_WORDS = 64;
export const EEPROM_CHECKSUM_WORD = 0x3f;
export const EEPROM_SUM = 0xbaba;
/** What a read past the EEPROM's last word returns (erased cells). */
export const EEPROM_BLANK = 0xffff;

/** The six octets of a MAC, first on the wire first. */
export function macOctets(mac: Mac): Uint8Array {
  const o = new Uint8Array(6);
  let v = mac as number;
  for (let i = 5; i >= 0; i--) {
    o[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return o;
}

export function eepromImage(mac: Mac): Uint16Array {
  const words = new Uint16Array(EEPROM_WORDS);
  const o = macOctets(mac);
  for (let i = 0; i < 3; i++) words[i] = o[2 * i]! | (o[2 * i + 1]! << 8);
  let sum = 0;
  for (let i = 0; i < EEPROM_CHECKSUM_WORD; i++) sum += words[i]!;
  words[EEPROM_CHECKSUM_WORD] = (EEPROM_SUM - sum) & 0xffff;
  return words;
}

/** The MAC in EEPROM words 0-2, as a driver assembles it. */
export function macFromEepromWords(w0: number, w1: number, w2: number): Mac {
  const o = [w0 & 0xff, w0 >>> 8, w1 & 0xff, w1 >>> 8, w2 & 0xff, w2 >>> 8];
  return o.reduce((v, x) => v * 256 + x, 0) as Mac;
}

/** True when a 64-word image sums to 0xBABA, as a driver checks before trusting it. */
export function eepromChecksumValid(words: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < EEPROM_WORDS; i++) sum += words[i]! & 0xffff;
  return (sum & 0xffff) === EEPROM_SUM;
}
