using System.Runtime.InteropServices;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Native;

/// <summary>
/// The exported C functions; guise.h documents each. Every body runs inside
/// <see cref="Library.Call"/>, so an exception becomes a status code, never an unwind into C.
/// </summary>
internal static unsafe class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "guise_version")]
    public static byte* GuiseVersion() => (byte*)Library.Version;

    [UnmanagedCallersOnly(EntryPoint = "guise_last_error")]
    public static byte* GuiseLastError() => Library.LastError;

    [UnmanagedCallersOnly(EntryPoint = "guise_init")]
    public static int GuiseInit(byte* stateDir, nint log, nint user) => Library.Call(() =>
    {
        Library.Init(Utf8.Require(stateDir, "state_dir"), log, user);
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_set_event_callback")]
    public static int GuiseSetEventCallback(nint callback, nint user) => Library.Call(() =>
    {
        Library.SetEventCallback(callback, user);
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_set_default_args")]
    public static int GuiseSetDefaultArgs(byte* transport, byte* args) => Library.Call(() =>
    {
        var text = Utf8.Read(args);
        Library.Controller.SetDefaultArgs(Utf8.Require(transport, "transport"), string.IsNullOrEmpty(text) ? null : PtArgs.ParseSocks(text));
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_client_start")]
    public static int GuiseClientStart(byte* transport, byte* proxy, ushort* outPort) => Library.Call(() =>
    {
        if (outPort is null)
            throw new PtException(PtErrorKind.Config, "out_port must not be NULL");
        var name = Utf8.Require(transport, "transport");
        var endpoint = Library.Controller.StartClientAsync(name, Utf8.Read(proxy)).GetAwaiter().GetResult();
        *outPort = (ushort)endpoint.Port;
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_server_start")]
    public static int GuiseServerStart(byte* transport, byte* listenAddress, byte* targetAddress, byte* options,
        byte* bridgeArgs, nuint bridgeArgsLength, ushort* outPort) => Library.Call(() =>
    {
        var name = Utf8.Require(transport, "transport");
        var optionText = Utf8.Read(options);
        var controller = Library.Controller;
        var info = controller.StartServerAsync(name, Utf8.Require(listenAddress, "listen_addr"), Utf8.Require(targetAddress, "target_addr"),
            string.IsNullOrEmpty(optionText) ? null : PtArgs.ParseSocks(optionText)).GetAwaiter().GetResult();
        var args = info.ClientArgs.ToSocksString();
        if (!Utf8.TryCopy(args, bridgeArgs, bridgeArgsLength, out var needed))
        {
            controller.StopAsync(name, Hosting.ConnectionRole.Server).GetAwaiter().GetResult();
            throw new PtException(PtErrorKind.Config, $"bridge_args needs {needed} bytes, {bridgeArgsLength} given; the server was stopped");
        }
        if (outPort is not null)
            *outPort = (ushort)info.EndPoint.Port;
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_stop")]
    public static int GuiseStop(byte* transport) => Library.Call(() =>
    {
        var name = Utf8.Require(transport, "transport");
        if (!Library.Controller.StopAsync(name).GetAwaiter().GetResult())
            throw new PtException(PtErrorKind.Config, $"no {name} client or server is running");
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_shutdown")]
    public static int GuiseShutdown() => Library.Call(() =>
    {
        Library.Shutdown();
        return 0;
    });

    [UnmanagedCallersOnly(EntryPoint = "guise_managed_main")]
    public static int GuiseManagedMain(int argc, byte** argv, byte** envp) => Library.Call(() => ManagedMain.Run(argc, argv, envp));

    [UnmanagedCallersOnly(EntryPoint = "guise_managed_stop")]
    public static int GuiseManagedStop() => Library.Call(() =>
    {
        ManagedMain.Stop();
        return 0;
    }, allowedInCallback: true);
}
