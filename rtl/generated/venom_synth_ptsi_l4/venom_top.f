../../venom_quant.v
../../venom_normalize.v
../../venom_rom.v
../../venom_lut_unit.v
../../venom_engine.v
../../venom_core.v
venom_top.v
