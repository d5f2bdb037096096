// Raw RTCDataChannel throughput baseline: plain browser APIs only, none of Meshdrop's code.
//
// The harness installs this in two pages and relays the SDP between them:
//   offerer:  rtcBaseline.offer()        -> offer SDP (ICE gathering complete)
//   answerer: rtcBaseline.answer(offer)  -> answer SDP (ICE gathering complete)
//   offerer:  rtcBaseline.accept(answer)
// then runs, at the same time, rtcBaseline.send(bytes, messageBytes) on the offerer and
// rtcBaseline.receive(bytes) on the answerer.
//
// The sender writes messages of `messageBytes` (one buffer, sent again and again) and
// pauses while more than HIGH_WATER bytes are queued,
// resuming on `bufferedamountlow` (below LOW_WATER). Each message starts with its sequence
// number (u32, big endian) so the receiver can check that nothing was lost or reordered.
window.rtcBaseline = (() => {
  const HIGH_WATER = 4 * 1024 * 1024;
  const LOW_WATER = 1024 * 1024;

  let connection = null;
  let channel = null;
  const inbox = {
    bytes: 0,
    messages: 0,
    outOfOrder: 0,
    firstAt: null,
    lastAt: null,
    waiters: [],
  };

  async function iceGatheringComplete(pc) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
  }

  async function localDescriptionWithCandidates(pc) {
    await pc.setLocalDescription();
    await iceGatheringComplete(pc);
    return pc.localDescription.sdp;
  }

  function channelOpen(dc) {
    if (dc.readyState === "open") return Promise.resolve();
    return new Promise((resolve, reject) => {
      dc.addEventListener("open", () => resolve(), { once: true });
      dc.addEventListener("close", () => reject(new Error("data channel closed")), { once: true });
    });
  }

  function onMessage(event) {
    const data = event.data;
    const now = performance.now();
    if (inbox.firstAt === null) inbox.firstAt = now;
    inbox.lastAt = now;
    if (data.byteLength >= 4 && new DataView(data).getUint32(0) !== inbox.messages) {
      inbox.outOfOrder += 1;
    }
    inbox.messages += 1;
    inbox.bytes += data.byteLength;
    inbox.waiters = inbox.waiters.filter((waiter) => !waiter());
  }

  function summary() {
    return {
      bytes: inbox.bytes,
      messages: inbox.messages,
      outOfOrder: inbox.outOfOrder,
      elapsedMs: inbox.firstAt === null ? 0 : inbox.lastAt - inbox.firstAt,
    };
  }

  return {
    async offer() {
      connection = new RTCPeerConnection();
      channel = connection.createDataChannel("baseline");
      channel.binaryType = "arraybuffer";
      return localDescriptionWithCandidates(connection);
    },

    async answer(offerSdp) {
      connection = new RTCPeerConnection();
      connection.addEventListener("datachannel", (event) => {
        event.channel.binaryType = "arraybuffer";
        event.channel.addEventListener("message", onMessage);
      });
      await connection.setRemoteDescription({ type: "offer", sdp: offerSdp });
      return localDescriptionWithCandidates(connection);
    },

    async accept(answerSdp) {
      await connection.setRemoteDescription({ type: "answer", sdp: answerSdp });
    },

    async send(totalBytes, messageBytes) {
      await channelOpen(channel);
      channel.bufferedAmountLowThreshold = LOW_WATER;
      const message = new Uint8Array(messageBytes);
      const header = new DataView(message.buffer);
      const started = performance.now();
      let sent = 0;
      for (let sequence = 0; sent < totalBytes; sequence += 1) {
        if (channel.bufferedAmount > HIGH_WATER) {
          await new Promise((resolve) => {
            channel.onbufferedamountlow = resolve;
          });
        }
        const size = Math.min(messageBytes, totalBytes - sent);
        header.setUint32(0, sequence);
        channel.send(size === messageBytes ? message : message.subarray(0, size));
        sent += size;
      }
      return { bytes: sent, elapsedMs: performance.now() - started };
    },

    receive(totalBytes) {
      return new Promise((resolve) => {
        const done = () => {
          if (inbox.bytes < totalBytes) return false;
          resolve(summary());
          return true;
        };
        if (!done()) inbox.waiters.push(done);
      });
    },
  };
})();
