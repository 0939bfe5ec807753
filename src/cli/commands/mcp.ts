import type { Command } from "commander";
import { withKb } from "../context.ts";

/**
 * `kb mcp`: the MCP server over stdio, for a desktop client (Claude Desktop, Cursor, VS Code) that
 * starts it as a child process on a machine with the data folder.
 *
 * A process that can open the data folder could act as anyone, so it does not take a user name
 * (no `--as`): it needs an API token (`KB_TOKEN`, or `--token`, which other users of the machine
 * may see in the process list) and acts as that token's user, with its scopes, authenticated by
 * the same `Accounts.authenticate` as the API. The token is checked before anything is served (a
 * refused one ends the process with status 1 and an `auth.failed` audit event) and again at every
 * tool call, so a revocation or a disabled user takes effect at once. Tool calls are audited with
 * `via: "mcp-stdio"`. There is no rate limit here (the API's limits are the HTTP server's): the
 * process serves one client, like the other CLI commands.
 *
 * stdout carries the protocol only; logs go to stderr (kb's logger writes to fd 2).
 */
export function registerMcpCommand(program: Command): void {
  program
    .command("mcp")
    .description("serve the MCP tools (search, ask, get_document_page, list_sources) over stdio as the user of an API token (KB_TOKEN or --token)")
    .option("--token <token>", "the API token (prefer the KB_TOKEN environment variable: a command line is visible to other users)")
    .action(async (o: { token?: string }) => {
      const token = o.token ?? process.env.KB_TOKEN ?? "";
      if (!token.trim()) throw new Error("kb mcp needs an API token: set KB_TOKEN (or --token); create one with `kb tokens create <user>`");
      await withKb(async (kb) => {
        const { createMcpServer, McpAuthError } = await import("../../mcp/server.ts");
        const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
        const authenticate = async () => {
          const auth = await kb.accounts.authenticate(token.trim());
          if (!auth) {
            await kb.authFailures.record("local", "kb mcp", "invalid, revoked or expired token");
            throw new McpAuthError("invalid, revoked or expired token");
          }
          return auth.actor;
        };
        const listedFor = await authenticate();
        const server = createMcpServer(kb, { actor: authenticate, listedFor, via: "mcp-stdio", request: "kb mcp" });
        const transport = new StdioServerTransport();
        const closed = new Promise<void>((resolve) => {
          transport.onclose = resolve;
        });
        await server.connect(transport);
        // The client ends the session by closing our stdin.
        const end = () => void server.close();
        process.stdin.once("end", end);
        process.stdin.once("close", end);
        process.once("SIGTERM", end);
        process.once("SIGINT", end);
        await closed;
      });
    });
}
