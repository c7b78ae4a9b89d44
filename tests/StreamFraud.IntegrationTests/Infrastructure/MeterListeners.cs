using System.Diagnostics.Metrics;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>Listeners on one of the scorer's instruments, for tests that read its metrics.</summary>
internal static class MeterListeners
{
    /// <summary>A started listener that passes every measurement of <paramref name="instrument"/> to <paramref name="callback"/>.</summary>
    public static MeterListener Listen(Instrument instrument, MeasurementCallback<long> callback)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (published, l) =>
        {
            if (ReferenceEquals(published, instrument))
            {
                l.EnableMeasurementEvents(published);
            }
        };
        listener.SetMeasurementEventCallback(callback);
        listener.Start();
        return listener;
    }
}
