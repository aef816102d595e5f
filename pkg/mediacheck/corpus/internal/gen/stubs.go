package main

func heicShapes() []shape { return nil }
func mp4Shapes() []shape  { return nil }
func webmShapes() []shape { return nil }
