"""`fte eval DIR`: score the agent on a company's folder of labelled tickets through a fresh stack.

- ``dataset``: read the folder (knowledge-base files and ``sample-tickets.json``) into plain records;
- ``customers``: who sends each ticket and what a customer would type into each channel (plain rules);
- ``sending`` / ``outcomes``: the I/O against the running stack (ingress in, database out);
- ``metrics`` / ``triggers``: the figures, as pure functions over outcome records;
- ``report``: the printed table and the JSON;
- ``runner``: the command itself.
"""
