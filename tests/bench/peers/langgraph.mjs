// langgraph.mjs - the peer of make bench-peers: an epic as a LangGraph JS graph of
// six trivial persona nodes in review order, each reading what the earlier ones
// said and adding its own recommendation (no rules engine, no files: the
// framework's own cost). Prints the median milliseconds per epic.
//
//   node langgraph.mjs EPICS     EPICS epics in this one process (after a warm-up)
//   node langgraph.mjs 1         one epic: run once per fresh process to time that
import { StateGraph, Annotation, START, END } from "@langchain/langgraph";

const personas = ["product-owner", "architect", "security-specialist",
	"performance-specialist", "accessibility-advocate", "devops-engineer"];
const State = Annotation.Root({
	description: Annotation(),
	recommendations: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
let g = new StateGraph(State);
for (const p of personas)
	g = g.addNode(p, (s) => ({ recommendations: [{ persona: p, after: s.recommendations.length,
		title: `${p} reviewed ${s.description.length} characters` }] }));
g = g.addEdge(START, personas[0]);
for (let i = 1; i < personas.length; i++)
	g = g.addEdge(personas[i - 1], personas[i]);
g = g.addEdge(personas[personas.length - 1], END);
const app = g.compile();

const n = Number(process.argv[2] || 1);
const description = "Let shop admins upload product images and let customers pay by card at checkout.";
const times = [];
if (n > 1)
	for (let i = 0; i < 20; i++)
		await app.invoke({ description });
for (let i = 0; i < n; i++) {
	const t0 = process.hrtime.bigint();
	const out = await app.invoke({ description: `${description} #${i}` });
	times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	if (out.recommendations.length !== personas.length)
		throw new Error("a persona did not answer");
}
times.sort((a, b) => a - b);
console.log(`epic_ms ${times[Math.floor(times.length / 2)].toFixed(3)}`);
