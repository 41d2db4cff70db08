using System.Text.Json;
using Json.Schema;

namespace Guise.Tests.Shared;

/// <summary>
/// docs/schema/guise-probe.schema.json (copied next to the test assembly as Probe/guise-probe.schema.json),
/// evaluated with JsonSchema.Net. Linked into both test projects.
/// </summary>
internal static class ProbeSchema
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromText(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Probe", "guise-probe.schema.json"))));

    /// <summary>The schema's errors for one JSONL line (empty when it is valid).</summary>
    public static List<string> Errors(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var result = Schema.Value.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return result.IsValid
            ? []
            : [.. (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key}: {e.Value}"))];
    }
}
