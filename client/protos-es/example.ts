// A taste of the generated code, type-checked with it by `npm run typecheck`:
// a message built and read back as the JSON the REST gateway speaks, and a
// method of a service descriptor (what Connect-ES clients are made from).
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { ChildSchema, ProgressService } from "./gen/kinbridge/progress/v1/progress_pb";

const child = create(ChildSchema, { displayName: "Ada", school: "Hill Primary", gradeLevel: "3" });
const json: string = toJsonString(ChildSchema, child);
export const school: string = fromJsonString(ChildSchema, json).school;
export const getChild: string = ProgressService.method.getChild.name;
