// Keeps the last lines of a stream (a server's stderr, a run's output) so an error message
// can say *why* a process died without the user digging through the log.

export class LastLines {
  private lines: string[] = [];
  private partial = "";

  constructor(private readonly limit = 20) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) {
      if (line.trim()) {
        this.lines.push(line);
      }
    }
    if (this.lines.length > this.limit) {
      this.lines = this.lines.slice(-this.limit);
    }
  }

  /** The last non-empty line, including an unterminated one. */
  last(): string | undefined {
    return this.partial.trim() ? this.partial : this.lines[this.lines.length - 1];
  }

  all(): string[] {
    return this.partial.trim() ? [...this.lines, this.partial] : [...this.lines];
  }

  clear(): void {
    this.lines = [];
    this.partial = "";
  }
}
