/** A short engine demo: two accounts trade on BTC-USD, and the events are printed. */
export async function runDemo(): Promise<void> {
  console.log("bourse: engine demo (the API server arrives with the API issue)");
}
