// workerd has no ImageData; jSquash's codecs construct and accept it.
if (!globalThis.ImageData) {
  globalThis.ImageData = class ImageData {
    constructor(data, width, height) {
      this.data = data;
      this.width = width;
      this.height = height ?? data.length / 4 / width;
    }
  };
}
