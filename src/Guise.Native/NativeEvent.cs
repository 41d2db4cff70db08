using System.Runtime.InteropServices;

namespace Guise.Native;

/// <summary>guise_event in guise.h; the layout must match it field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeEvent
{
    public int Type;
    public int Role;
    public byte* Transport;
    public byte* Address;
    public int Status;
    public int Retry;
    public byte* Message;
    public ulong BytesUp;
    public ulong BytesDown;
}

internal static class EventType
{
    public const int Started = 1;
    public const int Opened = 2;
    public const int Closed = 3;
    public const int Failed = 4;
    public const int Stopped = 5;
}
