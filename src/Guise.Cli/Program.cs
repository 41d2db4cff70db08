using Guise.Cli;

// Run socket continuations on the epoll threads instead of handing each one to a thread-pool
// worker. A proxy's work is a chain of short, non-blocking steps per socket event, and the hand-off
// (a futex wake and a context switch per event) was about a third of guise's CPU per tunnel:
// CPU per sequential obfs4 tunnel 1.7-2.1 ms instead of 2.8-3.0, plain 0.74 instead of 1.0-1.25,
// bulk 4.8-6.3 ms per MiB instead of 6.6-7.2 (scripts/bench, same binary, loaded 2-core box).
// .NET reads this once, when the first socket is made; a value the user set wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

// Tor starts a managed proxy with no arguments (or obfs4proxy-style flags) and TOR_PT_* set.
if (ManagedMode.ShouldRun(args, Environment.GetEnvironmentVariable("TOR_PT_MANAGED_TRANSPORT_VER")))
    return await ManagedMode.RunAsync(args);

var root = Commands.Build();
if (args.Length == 0)
{
    Console.Error.WriteLine("guise: no command given, and TOR_PT_MANAGED_TRANSPORT_VER is not set, so this is not a launch by Tor.");
    Console.Error.WriteLine("Try 'guise demo' to see a tunnel work, or 'guise --help'.");
    return 64;
}
return await root.Parse(args).InvokeAsync();
