#!/usr/bin/env python3
"""A pretend AI agent for `novaos sandbox run`.

It makes pretend API calls and reports each one through the novaos event protocol:
one JSON object per line, written to the pipe named by $NOVAOS_EVENTS (/dev/fd/3).

    novaos sandbox run AGENT_ID -- python3 "$PWD/sandbox/agents/example_agent.py" --calls 5
    novaos sandbox run AGENT_ID -- python3 "$PWD/sandbox/agents/example_agent.py" --runaway

--calls N     make N calls, then report a sale and exit (default 5)
--runaway     never stop calling: the token budget has to stop it
--tokens N    input tokens per call (default 1200; output is a quarter of it)
--delay S     seconds between calls (default 0.05)
--bad-line    also write one malformed event line (novaos logs it and carries on)
--reserve     ask for the tokens of each call first: write {"type":"reserve","tokens":N} to
              $NOVAOS_EVENTS and read the answer, one JSON line, from $NOVAOS_REPLIES:
              {"granted":N}, or {"granted":0,"reason":"budget_exceeded"}, and then stop
              cleanly. An agent that asks before every call never overspends its budget, even
              with other runs of it going on at the same time.
"""
import argparse
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--runaway", action="store_true")
    parser.add_argument("--tokens", type=int, default=1200)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--model", default="claude-sonnet-4")
    parser.add_argument("--bad-line", action="store_true")
    parser.add_argument("--reserve", action="store_true")
    args = parser.parse_args()

    events_path = os.environ.get("NOVAOS_EVENTS")
    if not events_path:
        print("NOVAOS_EVENTS is not set: run me with `novaos sandbox run AGENT_ID -- ...`", file=sys.stderr)
        return 2
    agent = os.environ.get("NOVAOS_AGENT_ID", "?")
    budget = os.environ.get("NOVAOS_TOKEN_BUDGET", "?")
    config = json.loads(os.environ.get("NOVAOS_AGENT_CONFIG", "{}"))
    print(f"agent {agent} starting with {budget} tokens left, config {config}", flush=True)

    replies = open(os.environ["NOVAOS_REPLIES"]) if args.reserve else None
    with open(events_path, "w", buffering=1) as events:  # line-buffered: one event per write
        def report(event: dict) -> None:
            events.write(json.dumps(event) + "\n")

        def reserve(tokens: int) -> bool:
            report({"type": "reserve", "tokens": tokens})
            answer = json.loads(replies.readline() or "{}")
            if answer.get("granted", 0) < tokens:
                print(f"no tokens granted ({answer.get('reason', 'no answer')}): stopping", flush=True)
                return False
            return True

        if args.bad_line:
            events.write("this is not json\n")
        call = 0
        while args.runaway or call < args.calls:
            if replies is not None and not reserve(args.tokens + args.tokens // 4):
                break
            call += 1
            # A real agent would call the model here.
            report({
                "type": "usage", "model": args.model, "operation": f"draft-{call}",
                "input_tokens": args.tokens, "output_tokens": args.tokens // 4,
                "id": f"{agent}-{os.environ.get('NOVAOS_RUN_ID', '0')}-{call}",
            })
            print(f"call {call}: {args.tokens} in, {args.tokens // 4} out", flush=True)
            time.sleep(args.delay)
        report({"type": "revenue", "amount": 4.99, "source": "example", "description": f"{call} answers sold"})
    print("done", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
