// A minimal async mutex; the lease is disposable so `using` releases it on every path.

export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async acquire(): Promise<Disposable> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return { [Symbol.dispose]: release };
  }
}
