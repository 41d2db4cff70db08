using System.Runtime.InteropServices;
using System.Text;

namespace Guise.Native;

/// <summary>UTF-8 C strings in and out; every allocation here is malloc/free (NativeMemory).</summary>
internal static unsafe class Utf8
{
    /// <summary>Reads a NUL-terminated UTF-8 string; null for a NULL pointer.</summary>
    public static string? Read(byte* p) => p is null ? null : Marshal.PtrToStringUTF8((nint)p);

    public static string Require(byte* p, string what) =>
        Read(p) ?? throw new Errors.PtException(Errors.PtErrorKind.Config, $"{what} must not be NULL");

    /// <summary>A malloc'ed copy; free with <see cref="Free"/>. Null for a null string.</summary>
    public static byte* Alloc(string? s)
    {
        if (s is null)
            return null;
        var length = Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, length));
        p[length] = 0;
        return p;
    }

    public static void Free(byte* p) => NativeMemory.Free(p);

    /// <summary>Copies <paramref name="s"/> with its NUL into a caller's buffer; false when it does not fit.</summary>
    public static bool TryCopy(string s, byte* buffer, nuint capacity, out int needed)
    {
        needed = Encoding.UTF8.GetByteCount(s) + 1;
        if (buffer is null || (nuint)needed > capacity)
            return false;
        Encoding.UTF8.GetBytes(s, new Span<byte>(buffer, needed - 1));
        buffer[needed - 1] = 0;
        return true;
    }
}
