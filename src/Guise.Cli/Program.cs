using Guise.Cli;

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
