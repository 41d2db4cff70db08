using System.Text;

namespace Guise.Tests.Socks;

internal static class Bytes
{
    /// <summary>Concatenates byte arrays and ASCII strings into one message.</summary>
    public static byte[] Of(params object[] parts)
    {
        var all = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case byte b: all.Add(b); break;
                case int i: all.Add(checked((byte)i)); break;
                case byte[] a: all.AddRange(a); break;
                case string s: all.AddRange(Encoding.UTF8.GetBytes(s)); break;
                default: throw new ArgumentException($"unsupported part {part}");
            }
        }
        return [.. all];
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
