import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// The stream API as an installed user sees it: the built package root.
describe('package root export: operators and the service (built)', () => {
  it('exports the operators, createService and the MQTT helpers; createService validates its config', async () => {
    // The package's own name resolves through package.json `exports` to the built entry.
    const api: Record<string, any> = await import('edgestream');
    for (const name of ['perDevice', 'boundedBuffer', 'sequenceGuard', 'decodePcm', 'resampleAudio', 'audioFeatures', 'spotKeywords', 'keywordSpotting', 'decodeSensorFrames', 'predictStream', 'createService', 'EdgestreamService', 'loadServiceConfig', 'MqttAudioPublisher', 'startEmbeddedBroker', 'TopicSchema']) {
      assert.equal(typeof api[name], 'function', `missing export ${name}`);
    }
    assert.equal(typeof api.ServiceConfigSchema.parse, 'function');
    const service = api.createService({ baseTopic: 'kws' });
    assert.equal(service.running, false);
    assert.throws(() => api.createService({ mqtt: { url: 42 } }), (e: unknown) => e instanceof api.EdgestreamError && (e as { code: string }).code === 'E_CONFIG');
  });
});
