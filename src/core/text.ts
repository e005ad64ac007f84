/** Short, one-line forms of user text for messages and tables. Pure. */

/** The first line of `text`, at most `max` characters; " ..." marks lines left out. */
export function oneLine(text: string, max = 60): string {
  const first = text.trim().split('\n')[0];
  const more = text.trim().includes('\n') ? ' ...' : '';
  return first.length + more.length > max ? first.slice(0, max - 3) + '...' : first + more;
}

/** How a step is named in messages: its display name, else its command shortened to one line. */
export function stepLabel(s: { name?: string; run: string }): string {
  return s.name ?? oneLine(s.run);
}
