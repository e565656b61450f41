import { EdgestreamError } from '../../runtime/errors.js';

/**
 * The three official LMUFormer variants (zeyuliu1037/LMUFormer, src/lmu_rnn.py) and the exact
 * parameter set each one has under its official state_dict names (without `module.`).
 * This table is the import map: a checkpoint must have exactly these tensors with these shapes.
 */
export const VARIANTS = ['lmu_rnn_conv1d', 'slmu_rnn_conv1d', 'slmu_rnn_ms_conv1d'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface LmuformerConfig {
  /** Model width C (`embed_dims`). */
  dim: number;
  /** Number of blocks. */
  depths: number;
  /** Hidden width of the ConvFFN, `int(dim · mlp_ratio)`. */
  mlpHidden: number;
  /** Input features per frame (mel bins). */
  mels: number;
  /** Output classes. */
  classes: number;
  /** LMU memory size M (C for LMU, 2C for the spiking cells). */
  memory: number;
}

export function isVariant(v: string): v is Variant {
  return (VARIANTS as readonly string[]).includes(v);
}

export function assertVariant(v: string): Variant {
  if (!isVariant(v)) {
    throw new EdgestreamError('E_UNKNOWN_ARCH', `unknown LMUFormer variant "${v}". Expected one of: ${VARIANTS.join(', ')}`);
  }
  return v;
}

export const isSpiking = (v: Variant): boolean => v !== 'lmu_rnn_conv1d';

type Shape = readonly number[];

function bn(prefix: string, n: number): [string, Shape][] {
  return [[`${prefix}.weight`, [n]], [`${prefix}.bias`, [n]], [`${prefix}.running_mean`, [n]], [`${prefix}.running_var`, [n]]];
}

/** Every tensor the variant uses, with its shape. Order follows the official module order. */
export function parameterSpec(variant: Variant, c: LmuformerConfig): Map<string, Shape> {
  const { dim: C, mels: F, mlpHidden: H, memory: M, classes: K } = c;
  const p: [string, Shape][] = [];
  if (variant === 'lmu_rnn_conv1d') {
    for (let i = 0; i < 4; i++) {
      p.push([`patch_embed.conv_layers.${i}.0.weight`, [C, i === 0 ? F : C, 3]]);
      p.push(...bn(`patch_embed.conv_layers.${i}.3`, C));
    }
    p.push(['patch_embed.rpe_conv.weight', [C, C, 3]]);
  } else {
    const suffixes = ['', '1', '2', '3'];
    suffixes.forEach((s, i) => {
      p.push([`patch_embed.proj_conv${s}.weight`, [C, i === 0 ? F : C, 3]]);
      p.push(...bn(`patch_embed.proj_bn${s}`, C));
    });
    p.push(['patch_embed.rpe_conv.weight', [C, C, 3]]);
    if (variant === 'slmu_rnn_conv1d') p.push(...bn('patch_embed.rpe_bn', C));
  }
  for (let b = 0; b < c.depths; b++) {
    const a = `block.${b}.attn`;
    p.push([`${a}.lmu.A`, [M, M]], [`${a}.lmu.B`, [M, 1]]);
    p.push([`${a}.lmu.W_u.weight`, [1, C]], [`${a}.lmu.W_u.bias`, [1]]);
    p.push([`${a}.lmu.W_h.weight`, [C, M + C]], [`${a}.lmu.W_h.bias`, [C]]);
    if (variant !== 'lmu_rnn_conv1d') p.push(...bn(`${a}.lmu.bn_u`, 1), ...bn(`${a}.lmu.bn_m`, M), ...bn(`${a}.lmu.bn_h`, C));
    if (variant === 'slmu_rnn_ms_conv1d') p.push(...bn(`${a}.prev_bn`, C));
    p.push([`${a}.proj_conv.weight`, [C, C, 1]], [`${a}.proj_conv.bias`, [C]], ...bn(`${a}.proj_bn`, C));
    const m = `block.${b}.mlp`;
    if (variant === 'slmu_rnn_ms_conv1d') {
      p.push(...bn(`${m}.fc1_bn`, C), [`${m}.fc1_conv.weight`, [H, C, 1]], [`${m}.fc1_conv.bias`, [H]]);
      p.push(...bn(`${m}.fc2_bn`, H), [`${m}.fc2_conv.weight`, [C, H, 1]], [`${m}.fc2_conv.bias`, [C]]);
    } else {
      p.push([`${m}.fc1_conv.weight`, [H, C, 1]], [`${m}.fc1_conv.bias`, [H]], ...bn(`${m}.fc1_bn`, H));
      p.push([`${m}.fc2_conv.weight`, [C, H, 1]], [`${m}.fc2_conv.bias`, [C]], ...bn(`${m}.fc2_bn`, C));
    }
  }
  if (variant === 'slmu_rnn_ms_conv1d') p.push(...bn('head_bn', C));
  p.push(['head.weight', [K, C]], ['head.bias', [K]]);
  return new Map(p);
}

/**
 * Tensors a checkpoint may carry that the streaming runtime does not use: the LMU's impulse
 * response and its FFT (the recurrence replaces them) and BatchNorm step counters.
 */
export function isIgnoredKey(key: string): boolean {
  return /\.lmu\.(H|fft_H)$/.test(key) || key.endsWith('.num_batches_tracked');
}

/** Guess the variant from the key names alone (for helpful error messages and `--arch auto`). */
export function detectVariant(keys: Iterable<string>): Variant | null {
  const set = new Set(keys);
  if (set.has('patch_embed.conv_layers.0.0.weight')) return 'lmu_rnn_conv1d';
  if (set.has('head_bn.weight') || set.has('block.0.attn.prev_bn.weight')) return 'slmu_rnn_ms_conv1d';
  if (set.has('patch_embed.rpe_bn.weight')) return 'slmu_rnn_conv1d';
  return null;
}

function missingTensor(key: string, variant: Variant, keys: Iterable<string>): EdgestreamError {
  const found = detectVariant(keys);
  const hint = found && found !== variant ? ` (the tensor names look like ${found}; pass --arch ${found})` : '';
  return new EdgestreamError('E_ARCH_MISMATCH', `missing tensor ${key} required by ${variant}${hint}`, { key, variant, detected: found });
}

/** Read the dimensions off the tensor shapes (the official code does not store a config). */
export function inferConfig(variant: Variant, shapes: ReadonlyMap<string, readonly number[]>): LmuformerConfig {
  const need = (key: string, dims: number): readonly number[] => {
    const s = shapes.get(key);
    if (!s) throw missingTensor(key, variant, shapes.keys());
    if (s.length !== dims) throw new EdgestreamError('E_ARCH_MISMATCH', `tensor ${key} has shape [${s.join(', ')}], expected ${dims} dimensions`, { key });
    return s;
  };
  const first = need(variant === 'lmu_rnn_conv1d' ? 'patch_embed.conv_layers.0.0.weight' : 'patch_embed.proj_conv.weight', 3);
  const head = need('head.weight', 2);
  let depths = 0;
  while (shapes.has(`block.${depths}.attn.lmu.A`)) depths++;
  if (depths === 0) need('block.0.attn.lmu.A', 2);
  const fc1 = need('block.0.mlp.fc1_conv.weight', 3);
  const a = need('block.0.attn.lmu.A', 2);
  return { dim: first[0]!, mels: first[1]!, classes: head[0]!, depths, mlpHidden: fc1[0]!, memory: a[0]! };
}

/** Check a full parameter set against the variant; the first problem is reported by key. */
export function validateParameters(variant: Variant, config: LmuformerConfig, shapes: ReadonlyMap<string, readonly number[]>): void {
  const spec = parameterSpec(variant, config);
  const expectedMemory = isSpiking(variant) ? 2 * config.dim : config.dim;
  if (config.memory !== expectedMemory) {
    throw new EdgestreamError('E_ARCH_MISMATCH', `block.0.attn.lmu.A is ${config.memory}×${config.memory}, but ${variant} at dim ${config.dim} has memory size ${expectedMemory}`, { key: 'block.0.attn.lmu.A' });
  }
  for (const [key, shape] of spec) {
    const got = shapes.get(key);
    if (!got) throw missingTensor(key, variant, shapes.keys());
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new EdgestreamError('E_ARCH_MISMATCH', `tensor ${key} has shape [${got.join(', ')}], expected [${shape.join(', ')}] for ${variant} (dim ${config.dim}, mlp hidden ${config.mlpHidden}, ${config.mels} mels, ${config.classes} classes)`, { key, got, expected: shape });
    }
  }
  for (const key of shapes.keys()) {
    if (!spec.has(key) && !isIgnoredKey(key)) {
      const found = detectVariant(shapes.keys());
      const hint = found && found !== variant ? `; the tensor names look like ${found}` : '';
      throw new EdgestreamError('E_ARCH_MISMATCH', `unexpected tensor ${key}: ${variant} has no such parameter${hint}`, { key, variant });
    }
  }
}
