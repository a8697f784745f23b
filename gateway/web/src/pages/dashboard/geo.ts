// The map of 河南 by prefecture city and the centre points of every city and province (assets/geo/README.md).
import * as echarts from "echarts/core";
import { MapChart } from "echarts/charts";
import { GeoComponent } from "echarts/components";
import henan from "@/assets/geo/henan.json";
import centres from "@/assets/geo/centres.json";

export const PROVINCE_MAP = "henan";
export const MAP_PROVINCE = "41";

interface Feature { id?: string; properties: { name: string; cp?: [number, number] } }
const features = (henan as unknown as { features: Feature[] }).features;
const centreTable = centres as unknown as Record<string, { name: string; cp: [number, number] }>;

let registered = false;

/** Register the province map once (ECharts decodes the compressed encoding). */
export function ensureMap(): void {
  if (registered) return;
  // registerMap is a no-op until the geo component has installed its implementation.
  echarts.use([MapChart, GeoComponent]);
  echarts.registerMap(PROVINCE_MAP, henan as unknown as Parameters<typeof echarts.registerMap>[1]);
  registered = true;
}

/** A city's six-digit code from its 4-digit prefix (4115 → 411500). */
export const cityCode = (code: string): string => code.slice(0, 4).padEnd(6, "0");

/** The map's name of a city (the map series matches regions by name). */
export function mapName(code: string): string | undefined {
  const six = cityCode(code);
  return features.find((f) => f.id === six)?.properties.name;
}

/** The city code of a region the map names. */
export function codeOfMapName(name: string): string | undefined {
  return features.find((f) => f.properties.name === name)?.id?.slice(0, 4);
}

/** Every city of the map: its 4-digit code, name and centre. */
export function mapCities(): { code: string; name: string; cp: [number, number] }[] {
  return features
    .filter((f) => f.id && f.properties.cp)
    .map((f) => ({ code: f.id!.slice(0, 4), name: f.properties.name, cp: f.properties.cp! }));
}

/** The centre point of a city or province by six-digit code (a county falls back to its city). */
export function centreOf(code: string): [number, number] | undefined {
  const six = code.padEnd(6, "0");
  return centreTable[six]?.cp ?? centreTable[cityCode(six)]?.cp ?? centreTable[six.slice(0, 2) + "0000"]?.cp;
}

/** A readable name where the API only knows the code (cities the reference list lacks). */
export function nameOf(code: string, given?: string): string {
  if (given && given !== code) return given;
  const fromMap = code.length <= 6 ? mapName(code) : undefined;
  if (fromMap && (code.length === 4 || code.endsWith("00"))) return fromMap;
  const six = code.padEnd(6, "0");
  const centre = centreTable[six]?.name;
  return centre ? (six.endsWith("0000") ? centre : `${centre}市`) : code;
}
