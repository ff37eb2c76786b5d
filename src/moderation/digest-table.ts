/**
 * A multimap from digests to the numbers of the entries holding them, in typed arrays: an
 * open-addressing table of (first 32 bits of the digest, entry number), 8 bytes a slot, at
 * most half full. The digests themselves stay with their entries: a lookup yields the numbers
 * whose first 32 bits match and the caller compares the rest.
 */
const EMPTY = 0;
const REMOVED = 0xffffffff;

export class DigestTable {
  /** Per slot: the entry number + 1 (EMPTY, REMOVED), and the digest's first 32 bits. */
  private slots = new Uint32Array(16);
  private keys = new Uint32Array(16);
  private used = 0;
  private removed = 0;

  add(number: number, key: number): void {
    if (2 * (this.used + this.removed + 1) > this.slots.length) this.resize();
    let slot = this.home(key);
    while (this.slots[slot] !== EMPTY && this.slots[slot] !== REMOVED) slot = this.next(slot);
    if (this.slots[slot] === REMOVED) this.removed--;
    this.slots[slot] = number + 1;
    this.keys[slot] = key;
    this.used++;
  }

  remove(number: number, key: number): void {
    for (let slot = this.home(key); this.slots[slot] !== EMPTY; slot = this.next(slot)) {
      if (this.slots[slot] === number + 1 && this.keys[slot] === key) {
        this.slots[slot] = REMOVED;
        this.used--;
        this.removed++;
        return;
      }
    }
  }

  /** The entry numbers filed under `key`. */
  candidates(key: number): number[] {
    const found: number[] = [];
    for (let slot = this.home(key); this.slots[slot] !== EMPTY; slot = this.next(slot)) {
      if (this.slots[slot] !== REMOVED && this.keys[slot] === key) found.push(this.slots[slot] - 1);
    }
    return found;
  }

  /** Rehashes into a table twice the live slots' need (removed slots are dropped). */
  private resize(): void {
    let length = 16;
    while (length < 4 * (this.used + 1)) length *= 2;
    const [slots, keys] = [this.slots, this.keys];
    this.slots = new Uint32Array(length);
    this.keys = new Uint32Array(length);
    this.used = 0;
    this.removed = 0;
    for (let slot = 0; slot < slots.length; slot++)
      if (slots[slot] !== EMPTY && slots[slot] !== REMOVED) this.add(slots[slot] - 1, keys[slot]);
  }

  private home(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 0) & (this.slots.length - 1);
  }

  private next(slot: number): number {
    return (slot + 1) & (this.slots.length - 1);
  }
}
