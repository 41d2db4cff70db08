using System.Reflection;
using System.Runtime.InteropServices;
using Guise.Errors;
using Guise.Hosting;
using Guise.Hosting.Controller;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Native;

/// <summary>
/// The state behind the C API: one controller, the callbacks, the calling thread's last error.
/// Every export goes through <see cref="Call"/>, so no exception ever reaches C.
/// </summary>
internal static unsafe partial class Library
{
    private static readonly Lock Gate = new();
    private static PtController? s_controller;
    private static volatile Callback? s_events;

    [ThreadStatic]
    private static byte* t_lastError;

    [ThreadStatic]
    private static bool t_inCallback;

    private sealed record Callback(nint Function, nint User);

    static Library() => NativeLibrary.SetDllImportResolver(typeof(GuiseInfo).Assembly, ResolveNextToUs);

    /// <summary>A static, NUL-terminated copy of the version: allocated once, never freed.</summary>
    public static readonly nint Version = (nint)Utf8.Alloc(GuiseInfo.Version);

    public static readonly byte* Empty = Utf8.Alloc("");

    public static byte* LastError => t_lastError is null ? Empty : t_lastError;

    /// <summary>Runs an export's body: exceptions become a status code and the thread's last error.</summary>
    public static int Call(Func<int> body, bool allowedInCallback = false)
    {
        try
        {
            if (t_inCallback && !allowedInCallback)
                throw new PtException(PtErrorKind.Config, "this guise_* function may not be called from inside a libguise callback");
            return body();
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    public static int Fail(Exception e)
    {
        var kind = e switch
        {
            PtEnvironmentException or ArgumentException or ObjectDisposedException => PtErrorKind.Config,
            _ => PtException.Classify(e),
        };
        var message = kind == PtErrorKind.Internal ? $"{e.GetType().Name}: {e.Message}" : e.Message;
        SetLastError(message);
        return -(int)kind;
    }

    public static void SetLastError(string message)
    {
        try
        {
            var previous = t_lastError;
            t_lastError = Utf8.Alloc(message);
            Utf8.Free(previous);
        }
        catch (OutOfMemoryException)
        {
            // Keep the previous text rather than fail the failure.
        }
    }

    public static PtController Controller =>
        s_controller ?? throw new PtException(PtErrorKind.Config, "libguise is not initialised: call guise_init first");

    public static void Init(string stateDirectory, nint log, nint user)
    {
        lock (Gate)
        {
            if (s_controller is not null)
                throw new PtException(PtErrorKind.Config, "libguise is already initialised: call guise_shutdown first");
            var controller = new PtController(stateDirectory, new PtControllerOptions
            {
                Log = log == 0 ? NullPtLog.Instance : new NativeLog(log, user),
            });
            controller.Started += (_, e) => Emit(EventType.Started, e.Transport, e.Role, Net.HostPort.Format(e.EndPoint), null, null, 0, 0, e.ClientArgs?.ToSocksString());
            controller.ConnectionOpened += (_, e) => Emit(EventType.Opened, e.Transport, e.Role, e.Peer, null, null, 0, 0, null);
            controller.ConnectionClosed += (_, e) => Emit(EventType.Closed, e.Transport, e.Role, e.Peer, e.FailureKind, e.FailureKind?.Advice(),
                e.BytesUp, e.BytesDown, e.FailureMessage);
            controller.Failed += (_, e) => Emit(EventType.Failed, e.Transport, e.Role, e.Peer, e.Kind, e.Advice, 0, 0, e.Message);
            controller.Stopped += (_, e) => Emit(EventType.Stopped, e.Transport, e.Role, null, null, null, 0, 0, null);
            s_controller = controller;
        }
    }

    public static void Shutdown()
    {
        PtController? controller;
        lock (Gate)
        {
            controller = s_controller;
            s_controller = null;
        }
        controller?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    public static void SetEventCallback(nint function, nint user) => s_events = function == 0 ? null : new Callback(function, user);

    private static void Emit(int type, string transport, ConnectionRole role, string? address, PtErrorKind? kind, RetryAdvice? advice,
        long up, long down, string? message)
    {
        if (s_events is not { } target)
            return;
        var t = Utf8.Alloc(transport);
        var a = Utf8.Alloc(address);
        var m = Utf8.Alloc(message);
        try
        {
            var e = new NativeEvent
            {
                Type = type,
                Role = role == ConnectionRole.Client ? 0 : 1,
                Transport = t,
                Address = a,
                Status = kind is { } k ? -(int)k : 0,
                Retry = advice is { } r ? (int)r : (int)RetryAdvice.None,
                Message = m,
                BytesUp = (ulong)up,
                BytesDown = (ulong)down,
            };
            var outer = EnterCallback();
            try
            {
                ((delegate* unmanaged<nint, NativeEvent*, void>)target.Function)(target.User, &e);
            }
            finally
            {
                t_inCallback = outer;
            }
        }
        finally
        {
            Utf8.Free(t);
            Utf8.Free(a);
            Utf8.Free(m);
        }
    }

    /// <summary>Marks the thread as inside a callback, so re-entrant control calls fail instead of deadlocking; returns the previous mark.</summary>
    private static bool EnterCallback()
    {
        var outer = t_inCallback;
        t_inCallback = true;
        return outer;
    }

    private sealed class NativeLog(nint function, nint user) : IPtLog
    {
        public void Log(PtLogSeverity severity, string message)
        {
            var m = Utf8.Alloc(message);
            try
            {
                var outer = EnterCallback();
                try
                {
                    ((delegate* unmanaged<nint, int, byte*, void>)function)(user, (int)severity, m);
                }
                finally
                {
                    t_inCallback = outer;
                }
            }
            finally
            {
                Utf8.Free(m);
            }
        }
    }

    /// <summary>
    /// libsodium ships next to libguise.so. The host's executable may live anywhere, so look in
    /// this library's own directory (from dladdr) before the default search.
    /// </summary>
    private static nint ResolveNextToUs(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != "libsodium")
            return 0;
        DlInfo info;
        if (dladdr((nint)(delegate* unmanaged<byte*>)&Exports.GuiseVersion, &info) != 0 && info.FileName is not null)
        {
            var directory = Path.GetDirectoryName(Utf8.Read(info.FileName));
            if (!string.IsNullOrEmpty(directory) && NativeLibrary.TryLoad(Path.Combine(directory, "libsodium.so"), out var handle))
                return handle;
        }
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public byte* FileName;
        public nint BaseAddress;
        public byte* SymbolName;
        public nint SymbolAddress;
    }

    [LibraryImport("libc", EntryPoint = "dladdr")]
    private static partial int dladdr(nint address, DlInfo* info);
}
