/** The badge tone of a sentiment (`positive`, `neutral`, `negative`, or Vapi's labels). */
export function sentimentTone(sentiment: string): "good" | "bad" | "neutral" {
  const s = sentiment.toLowerCase();
  if (s.startsWith("pos")) return "good";
  if (s.startsWith("neg")) return "bad";
  return "neutral";
}
