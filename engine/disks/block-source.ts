// The disk-reading contract is defined once, in adapters/ (adapters hand these out and may not import the engine).
export { assertReadInBounds, type BlockSource, type Extent } from '../../adapters/block-source'
